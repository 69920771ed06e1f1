# bash completion for assistant-cli (generated; do not edit)
_assistant_cli() {
    local cur="${COMP_WORDS[COMP_CWORD]}" path="" words="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "$path/${COMP_WORDS[i]}" in
            "/audit"|"/audit/list"|"/audit/verify"|"/config"|"/config/init"|"/config/show"|"/config/validate"|"/dashboard"|"/doctor"|"/logs"|"/pairing"|"/pairing/allow"|"/pairing/approve"|"/pairing/deny"|"/pairing/list"|"/pairing/revoke"|"/providers"|"/secrets"|"/secrets/delete"|"/secrets/list"|"/secrets/set"|"/serve") path="$path/${COMP_WORDS[i]}" ;;
        esac
    done
    case "$path" in
        "") words="audit config dashboard doctor logs pairing providers secrets serve --config --debug --help --version" ;;
        "/audit") words="list verify --help" ;;
        "/audit/list") words="--help --json --since" ;;
        "/audit/verify") words="--help" ;;
        "/config") words="init show validate --help" ;;
        "/config/init") words="--force --help" ;;
        "/config/show") words="--help" ;;
        "/config/validate") words="--help" ;;
        "/dashboard") words="--help" ;;
        "/doctor") words="--help" ;;
        "/logs") words="--channel --follow --grep --help --json --level --lines --since" ;;
        "/pairing") words="allow approve deny list revoke --help" ;;
        "/pairing/allow") words="--help --name --platform --user-id" ;;
        "/pairing/approve") words="--code --help --platform --user-id" ;;
        "/pairing/deny") words="--help --platform --user-id" ;;
        "/pairing/list") words="--help --json --platform" ;;
        "/pairing/revoke") words="--help --platform --user-id" ;;
        "/providers") words="--help" ;;
        "/secrets") words="delete list set --help" ;;
        "/secrets/delete") words="--help" ;;
        "/secrets/list") words="--help --json" ;;
        "/secrets/set") words="--help" ;;
        "/serve") words="--help --host --port" ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _assistant_cli assistant-cli

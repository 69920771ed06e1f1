# bash completion for assistant-cli (generated; do not edit)
_assistant_cli() {
    local cur="${COMP_WORDS[COMP_CWORD]}" path="" words="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "$path/${COMP_WORDS[i]}" in
            "/audit"|"/audit/list"|"/audit/verify"|"/config"|"/config/init"|"/config/show"|"/config/validate"|"/dashboard"|"/doctor"|"/gateway"|"/gateway/token"|"/logs"|"/pairing"|"/pairing/allow"|"/pairing/approve"|"/pairing/deny"|"/pairing/list"|"/pairing/revoke"|"/providers"|"/providers/add"|"/providers/list"|"/providers/login"|"/providers/logout"|"/providers/models"|"/providers/remove"|"/providers/set-default"|"/providers/test"|"/secrets"|"/secrets/delete"|"/secrets/list"|"/secrets/rotate"|"/secrets/set"|"/serve") path="$path/${COMP_WORDS[i]}" ;;
        esac
    done
    case "$path" in
        "") words="audit config dashboard doctor gateway logs pairing providers secrets serve --config --debug --help --version" ;;
        "/audit") words="list verify --help" ;;
        "/audit/list") words="--help --json --since" ;;
        "/audit/verify") words="--help --reanchor" ;;
        "/config") words="init show validate --help" ;;
        "/config/init") words="--force --help" ;;
        "/config/show") words="--help" ;;
        "/config/validate") words="--help" ;;
        "/dashboard") words="--ca-file --help" ;;
        "/doctor") words="--fix --help --json --offline --only --skip --timeout" ;;
        "/gateway") words="token --help" ;;
        "/gateway/token") words="--help --sub --ttl --url" ;;
        "/logs") words="--channel --follow --grep --help --json --level --lines --since" ;;
        "/pairing") words="allow approve deny list revoke --help" ;;
        "/pairing/allow") words="--help --name --platform --user-id" ;;
        "/pairing/approve") words="--code --help --platform --user-id" ;;
        "/pairing/deny") words="--help --platform --user-id" ;;
        "/pairing/list") words="--help --json --platform" ;;
        "/pairing/revoke") words="--help --platform --user-id" ;;
        "/providers") words="add list login logout models remove set-default test --help" ;;
        "/providers/add") words="--api-key-ref --api-key-stdin --auth --base-url --ca --cert --default --fallback --help --key --kind --model --oauth-authorize-url --oauth-client-id --oauth-client-secret-ref --oauth-client-secret-stdin --oauth-device-url --oauth-flow --oauth-redirect-port --oauth-scope --oauth-token-url --replace" ;;
        "/providers/list") words="--help --json --usage" ;;
        "/providers/login") words="--help --no-browser --timeout" ;;
        "/providers/logout") words="--help" ;;
        "/providers/models") words="--help --json" ;;
        "/providers/remove") words="--help --keep-secrets" ;;
        "/providers/set-default") words="--help" ;;
        "/providers/test") words="--help --json" ;;
        "/secrets") words="delete list rotate set --help" ;;
        "/secrets/delete") words="--help" ;;
        "/secrets/list") words="--help --json" ;;
        "/secrets/rotate") words="--help --no-test --timeout" ;;
        "/secrets/set") words="--help" ;;
        "/serve") words="--allowed-origins --help --host --insecure-http --jwt-secret --port --tls-cert --tls-key" ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _assistant_cli assistant-cli

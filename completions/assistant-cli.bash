# bash completion for assistant-cli (generated; do not edit)
_assistant_cli() {
    local cur="${COMP_WORDS[COMP_CWORD]}" path="" words="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "$path/${COMP_WORDS[i]}" in
            "/audit"|"/audit/list"|"/audit/verify"|"/config"|"/config/init"|"/config/show"|"/config/validate"|"/dashboard"|"/doctor"|"/gateway"|"/gateway/token"|"/inbox"|"/inbox/failed"|"/inbox/retry"|"/logs"|"/pairing"|"/pairing/allow"|"/pairing/approve"|"/pairing/deny"|"/pairing/list"|"/pairing/revoke"|"/plugins"|"/plugins/install"|"/plugins/list"|"/plugins/new"|"/plugins/search"|"/providers"|"/providers/add"|"/providers/list"|"/providers/login"|"/providers/logout"|"/providers/models"|"/providers/remove"|"/providers/set-default"|"/providers/test"|"/secrets"|"/secrets/delete"|"/secrets/list"|"/secrets/rotate"|"/secrets/set"|"/serve"|"/service"|"/service/install"|"/service/logs"|"/service/status"|"/service/uninstall"|"/state"|"/state/info"|"/state/migrate"|"/tools"|"/tools/approvals"|"/tools/list"|"/tools/test") path="$path/${COMP_WORDS[i]}" ;;
        esac
    done
    case "$path ${COMP_WORDS[COMP_CWORD-1]}" in
        " --config") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/audit/list --since") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/dashboard --ca-file") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/doctor --only") COMPREPLY=($(compgen -W "$(printf "%s\n" env config secrets state gateway providers telegram whatsapp tools env.os env.python config.valid config.secrets secrets.keyring secrets.present secrets.rotation state.database state.migrations state.audit state.undelivered state.lag state.permissions state.disk gateway.port gateway.tls providers.tls telegram.token telegram.webhook whatsapp.token)" -- "$cur")); return ;;
        "/doctor --skip") COMPREPLY=($(compgen -W "$(printf "%s\n" env config secrets state gateway providers telegram whatsapp tools env.os env.python config.valid config.secrets secrets.keyring secrets.present secrets.rotation state.database state.migrations state.audit state.undelivered state.lag state.permissions state.disk gateway.port gateway.tls providers.tls telegram.token telegram.webhook whatsapp.token)" -- "$cur")); return ;;
        "/doctor --timeout") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/gateway/token --sub") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/gateway/token --ttl") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/logs --channel") COMPREPLY=($(compgen -W "$(printf "%s\n" console telegram whatsapp)" -- "$cur")); return ;;
        "/logs --grep") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/logs --level") COMPREPLY=($(compgen -W "$(printf "%s\n" debug info warning error)" -- "$cur")); return ;;
        "/logs --lines") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/logs --since") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/logs --until") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/pairing/allow --name") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/pairing/allow --platform") COMPREPLY=($(compgen -W "$(printf "%s\n" telegram whatsapp)" -- "$cur")); return ;;
        "/pairing/allow --user-id") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/pairing/approve --code") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/pairing/approve --platform") COMPREPLY=($(compgen -W "$(printf "%s\n" telegram whatsapp)" -- "$cur")); return ;;
        "/pairing/approve --user-id") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/pairing/deny --platform") COMPREPLY=($(compgen -W "$(printf "%s\n" telegram whatsapp)" -- "$cur")); return ;;
        "/pairing/deny --user-id") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/pairing/list --limit") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/pairing/list --offset") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/pairing/list --platform") COMPREPLY=($(compgen -W "$(printf "%s\n" telegram whatsapp)" -- "$cur")); return ;;
        "/pairing/revoke --platform") COMPREPLY=($(compgen -W "$(printf "%s\n" telegram whatsapp)" -- "$cur")); return ;;
        "/pairing/revoke --user-id") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/plugins/install --index-url") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/plugins/list --kind") COMPREPLY=($(compgen -W "$(printf "%s\n" handler tool provider channel locale)" -- "$cur")); return ;;
        "/plugins/new --dir") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/plugins/new --kind") COMPREPLY=($(compgen -W "$(printf "%s\n" handler tool provider channel locale)" -- "$cur")); return ;;
        "/plugins/search --index-url") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/add --api-key-ref") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/add --auth") COMPREPLY=($(compgen -W "$(printf "%s\n" api-key oauth mtls none)" -- "$cur")); return ;;
        "/providers/add --base-url") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/add --ca") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/add --cert") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/add --key") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/add --kind") COMPREPLY=($(compgen -W "$(printf "%s\n" anthropic grpc openai openai-ws)" -- "$cur")); return ;;
        "/providers/add --model") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/add --oauth-authorize-url") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/add --oauth-client-id") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/add --oauth-client-secret-ref") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/add --oauth-device-url") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/add --oauth-flow") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/add --oauth-redirect-port") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/add --oauth-scope") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/add --oauth-token-url") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/providers/login --timeout") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/secrets/rotate --timeout") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/serve --allowed-origins") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/serve --host") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/serve --jwt-secret") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/serve --port") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/serve --replica") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/serve --role") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/serve --tls-cert") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/serve --tls-key") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/service/install --env-file") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/service/install --password-file") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/service/install --target") COMPREPLY=($(compgen -W "$(printf "%s\n" systemd launchd)" -- "$cur")); return ;;
        "/service/logs --lines") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/service/logs --target") COMPREPLY=($(compgen -W "$(printf "%s\n" systemd launchd)" -- "$cur")); return ;;
        "/service/status --target") COMPREPLY=($(compgen -W "$(printf "%s\n" systemd launchd)" -- "$cur")); return ;;
        "/service/uninstall --target") COMPREPLY=($(compgen -W "$(printf "%s\n" systemd launchd)" -- "$cur")); return ;;
        "/state/migrate --batch") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/state/migrate --password-env") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/state/migrate --to") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/tools/approvals --revoke") COMPREPLY=($(compgen -f -- "$cur")); return ;;
        "/tools/test --args") COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    case "$path" in
        "") words="audit config dashboard doctor gateway inbox logs pairing plugins providers secrets serve service state tools --config --debug --help --version" ;;
        "/audit") words="list verify --help" ;;
        "/audit/list") words="--help --json --since" ;;
        "/audit/verify") words="--help --json --reanchor" ;;
        "/config") words="init show validate --help" ;;
        "/config/init") words="--force --help" ;;
        "/config/show") words="--help --json" ;;
        "/config/validate") words="--help --json" ;;
        "/dashboard") words="--ca-file --help" ;;
        "/doctor") words="--fix --help --json --offline --only --skip --timeout --verbose" ;;
        "/gateway") words="token --help" ;;
        "/gateway/token") words="--help --sub --ttl --url" ;;
        "/inbox") words="failed retry --help" ;;
        "/inbox/failed") words="--help --json" ;;
        "/inbox/retry") words="--all --help" ;;
        "/logs") words="--channel --follow --grep --help --json --level --lines --since --until" ;;
        "/pairing") words="allow approve deny list revoke --help" ;;
        "/pairing/allow") words="--help --name --platform --user-id" ;;
        "/pairing/approve") words="--code --help --platform --user-id" ;;
        "/pairing/deny") words="--help --platform --user-id" ;;
        "/pairing/list") words="--help --json --limit --offset --platform" ;;
        "/pairing/revoke") words="--help --platform --user-id" ;;
        "/plugins") words="install list new search --help" ;;
        "/plugins/install") words="--help --index-url" ;;
        "/plugins/list") words="--help --json --kind" ;;
        "/plugins/new") words="--dir --help --kind" ;;
        "/plugins/search") words="--help --index-url --json" ;;
        "/providers") words="add list login logout models remove set-default test --help" ;;
        "/providers/add") words="--api-key-ref --api-key-stdin --auth --base-url --ca --cert --default --fallback --help --key --kind --model --oauth-authorize-url --oauth-client-id --oauth-client-secret-ref --oauth-client-secret-stdin --oauth-device-url --oauth-flow --oauth-redirect-port --oauth-scope --oauth-token-url --replace" ;;
        "/providers/list") words="--help --json --usage" ;;
        "/providers/login") words="--help --no-browser --timeout"; [[ "$cur" != -* ]] && words="$(assistant-cli providers list 2>/dev/null | cut -f1)" ;;
        "/providers/logout") words="--help"; [[ "$cur" != -* ]] && words="$(assistant-cli providers list 2>/dev/null | cut -f1)" ;;
        "/providers/models") words="--help --json"; [[ "$cur" != -* ]] && words="$(assistant-cli providers list 2>/dev/null | cut -f1)" ;;
        "/providers/remove") words="--help --keep-secrets"; [[ "$cur" != -* ]] && words="$(assistant-cli providers list 2>/dev/null | cut -f1)" ;;
        "/providers/set-default") words="--help"; [[ "$cur" != -* ]] && words="$(assistant-cli providers list 2>/dev/null | cut -f1)" ;;
        "/providers/test") words="--help --json"; [[ "$cur" != -* ]] && words="$(assistant-cli providers list 2>/dev/null | cut -f1)" ;;
        "/secrets") words="delete list rotate set --help" ;;
        "/secrets/delete") words="--help"; [[ "$cur" != -* ]] && words="$(assistant-cli secrets list 2>/dev/null | cut -f1)" ;;
        "/secrets/list") words="--help --json" ;;
        "/secrets/rotate") words="--help --no-test --timeout"; [[ "$cur" != -* ]] && words="$(assistant-cli secrets list 2>/dev/null | cut -f1)" ;;
        "/secrets/set") words="--help"; [[ "$cur" != -* ]] && words="$(assistant-cli secrets list 2>/dev/null | cut -f1)" ;;
        "/serve") words="--allowed-origins --help --host --insecure-http --jwt-secret --port --replica --role --tls-cert --tls-key" ;;
        "/service") words="install logs status uninstall --help" ;;
        "/service/install") words="--dry-run --env-file --help --password-file --target" ;;
        "/service/logs") words="--help --lines --target" ;;
        "/service/status") words="--help --target" ;;
        "/service/uninstall") words="--help --target" ;;
        "/state") words="info migrate --help" ;;
        "/state/info") words="--help --json" ;;
        "/state/migrate") words="--batch --help --password-env --to" ;;
        "/tools") words="approvals list test --help" ;;
        "/tools/approvals") words="--help --json --revoke" ;;
        "/tools/list") words="--help --json" ;;
        "/tools/test") words="--args --help --json" ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _assistant_cli assistant-cli

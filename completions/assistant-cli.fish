# fish completion for assistant-cli (generated; do not edit)
complete -c assistant-cli -f
complete -c assistant-cli -n '__fish_use_subcommand' -a audit -d 'Read and verify the audit log of admin actions (pairing, secrets, prov'
complete -c assistant-cli -n '__fish_use_subcommand' -a config -d 'Create, check and show the configuration file.'
complete -c assistant-cli -n '__fish_use_subcommand' -a dashboard -d 'Watch and steer a running serve - metrics, messages, pairing requests,'
complete -c assistant-cli -n '__fish_use_subcommand' -a doctor -d 'Find what is wrong with the setup and say how to fix it.'
complete -c assistant-cli -n '__fish_use_subcommand' -a gateway -d 'Tokens for the gateways WebSocket (the dashboard and other clients).'
complete -c assistant-cli -n '__fish_use_subcommand' -a inbox -d 'Messages whose answer could not be delivered - list the given-up ones '
complete -c assistant-cli -n '__fish_use_subcommand' -a logs -d 'Show what the gateway has been doing, from the log assistant-cli serve'
complete -c assistant-cli -n '__fish_use_subcommand' -a pairing -d 'Approve, deny and list people who asked to talk to the bot. Works whet'
complete -c assistant-cli -n '__fish_use_subcommand' -a plugins -d 'List, create, install and find plugins (handlers, tools, providers, ch'
complete -c assistant-cli -n '__fish_use_subcommand' -a providers -d 'List, add, test and remove model providers, and sign in to OAuth ones.'
complete -c assistant-cli -n '__fish_use_subcommand' -a secrets -d 'Store, list and delete secrets (API keys, bot tokens) in the OS keyrin'
complete -c assistant-cli -n '__fish_use_subcommand' -a serve -d 'Run the assistant - receive messages, answer them with your model, unt'
complete -c assistant-cli -n '__fish_use_subcommand' -a service -d 'Install, remove and watch serve as a service that starts at boot - a s'
complete -c assistant-cli -n '__fish_use_subcommand' -a state -d 'Show the state database (SQLite file or PostgreSQL) and copy a SQLite '
complete -c assistant-cli -n '__fish_use_subcommand' -a tools -d 'List the tools the model may call (MCP servers, plugins, built-ins), t'
complete -c assistant-cli -n '__fish_use_subcommand' -l config -r -F
complete -c assistant-cli -n '__fish_use_subcommand' -l debug
complete -c assistant-cli -n '__fish_use_subcommand' -l help
complete -c assistant-cli -n '__fish_use_subcommand' -l version
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and not __fish_seen_subcommand_from list verify' -a list -d 'List audit entries - time, actor, action, target, outcome.'
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and not __fish_seen_subcommand_from list verify' -a verify -d 'Check the HMAC chain and its anchors outside the database; names the f'
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and not __fish_seen_subcommand_from list verify' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and __fish_seen_subcommand_from list' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and __fish_seen_subcommand_from list' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and __fish_seen_subcommand_from list' -l since -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and __fish_seen_subcommand_from verify' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and __fish_seen_subcommand_from verify' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and __fish_seen_subcommand_from verify' -l reanchor
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and not __fish_seen_subcommand_from init show validate' -a init -d 'Write a commented starter config.yaml (refuses to overwrite without --'
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and not __fish_seen_subcommand_from init show validate' -a show -d 'Print the effective configuration (defaults filled in) with secrets ma'
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and not __fish_seen_subcommand_from init show validate' -a validate -d 'Check config.yaml; prints each problem as FILE -LINE - KEY - what was '
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and not __fish_seen_subcommand_from init show validate' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and __fish_seen_subcommand_from init' -l force
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and __fish_seen_subcommand_from init' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and __fish_seen_subcommand_from show' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and __fish_seen_subcommand_from show' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and __fish_seen_subcommand_from validate' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and __fish_seen_subcommand_from validate' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from dashboard' -l ca-file -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from dashboard' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from doctor' -l fix
complete -c assistant-cli -n '__fish_seen_subcommand_from doctor' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from doctor' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from doctor' -l offline
complete -c assistant-cli -n '__fish_seen_subcommand_from doctor' -l only -xa '(printf "%s\n" env config secrets state gateway providers telegram whatsapp tools env.os env.python config.valid config.secrets secrets.keyring secrets.present secrets.rotation state.database state.migrations state.audit state.undelivered state.lag state.permissions state.disk gateway.port gateway.tls providers.tls telegram.token telegram.webhook whatsapp.token)'
complete -c assistant-cli -n '__fish_seen_subcommand_from doctor' -l skip -xa '(printf "%s\n" env config secrets state gateway providers telegram whatsapp tools env.os env.python config.valid config.secrets secrets.keyring secrets.present secrets.rotation state.database state.migrations state.audit state.undelivered state.lag state.permissions state.disk gateway.port gateway.tls providers.tls telegram.token telegram.webhook whatsapp.token)'
complete -c assistant-cli -n '__fish_seen_subcommand_from doctor' -l timeout -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from doctor' -l verbose
complete -c assistant-cli -n '__fish_seen_subcommand_from gateway; and not __fish_seen_subcommand_from token' -a token -d 'Mint a signed access token for the gateway of this machines serve.'
complete -c assistant-cli -n '__fish_seen_subcommand_from gateway; and not __fish_seen_subcommand_from token' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from gateway; and __fish_seen_subcommand_from token' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from gateway; and __fish_seen_subcommand_from token' -l sub -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from gateway; and __fish_seen_subcommand_from token' -l ttl -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from gateway; and __fish_seen_subcommand_from token' -l url
complete -c assistant-cli -n '__fish_seen_subcommand_from inbox; and not __fish_seen_subcommand_from failed retry' -a failed -d 'List given-up messages - id, platform, chat, when and why, tries, whet'
complete -c assistant-cli -n '__fish_seen_subcommand_from inbox; and not __fish_seen_subcommand_from failed retry' -a retry -d 'Queue given-up messages again, with a fresh retry window. A running se'
complete -c assistant-cli -n '__fish_seen_subcommand_from inbox; and not __fish_seen_subcommand_from failed retry' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from inbox; and __fish_seen_subcommand_from failed' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from inbox; and __fish_seen_subcommand_from failed' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from inbox; and __fish_seen_subcommand_from retry' -l all
complete -c assistant-cli -n '__fish_seen_subcommand_from inbox; and __fish_seen_subcommand_from retry' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l channel -xa '(printf "%s\n" console telegram whatsapp)'
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l follow
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l grep -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l level -xa '(printf "%s\n" debug info warning error)'
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l lines -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l since -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l until -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and not __fish_seen_subcommand_from allow approve deny list revoke' -a allow -d 'Approve a sender without a code, for someone you already know by id.'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and not __fish_seen_subcommand_from allow approve deny list revoke' -a approve -d 'Approve a sender with the code the bot gave them.'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and not __fish_seen_subcommand_from allow approve deny list revoke' -a deny -d 'Refuse a pending request; they get no reply, and can ask again after a'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and not __fish_seen_subcommand_from allow approve deny list revoke' -a list -d 'List pending requests (with age and expiry) and approved senders.'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and not __fish_seen_subcommand_from allow approve deny list revoke' -a revoke -d 'Remove an approved sender; their next message starts pairing again.'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and not __fish_seen_subcommand_from allow approve deny list revoke' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from allow' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from allow' -l name -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from allow' -l platform -xa '(printf "%s\n" telegram whatsapp)'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from allow' -l user-id -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from approve' -l code -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from approve' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from approve' -l platform -xa '(printf "%s\n" telegram whatsapp)'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from approve' -l user-id -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from deny' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from deny' -l platform -xa '(printf "%s\n" telegram whatsapp)'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from deny' -l user-id -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from list' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from list' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from list' -l limit -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from list' -l offset -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from list' -l platform -xa '(printf "%s\n" telegram whatsapp)'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from revoke' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from revoke' -l platform -xa '(printf "%s\n" telegram whatsapp)'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from revoke' -l user-id -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and not __fish_seen_subcommand_from install list new search' -a install -d 'Install a plugin into the environment assistant-cli runs in (with pip)'
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and not __fish_seen_subcommand_from install list new search' -a list -d 'Every plugin found, built-ins included - kind, name, package, version,'
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and not __fish_seen_subcommand_from install list new search' -a new -d 'Write a complete plugin package (pyproject.toml with the entry point, '
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and not __fish_seen_subcommand_from install list new search' -a search -d 'Find published plugins - packages named assistant-cli-* with the keywo'
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and not __fish_seen_subcommand_from install list new search' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and __fish_seen_subcommand_from install' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and __fish_seen_subcommand_from install' -l index-url -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and __fish_seen_subcommand_from list' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and __fish_seen_subcommand_from list' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and __fish_seen_subcommand_from list' -l kind -xa '(printf "%s\n" handler tool provider channel locale)'
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and __fish_seen_subcommand_from new' -l dir -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and __fish_seen_subcommand_from new' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and __fish_seen_subcommand_from new' -l kind -xa '(printf "%s\n" handler tool provider channel locale)'
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and __fish_seen_subcommand_from search' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and __fish_seen_subcommand_from search' -l index-url -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from plugins; and __fish_seen_subcommand_from search' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and not __fish_seen_subcommand_from add list login logout models remove set-default test' -a add -d 'Add a provider to config.yaml; its secrets go to the keyring.'
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and not __fish_seen_subcommand_from add list login logout models remove set-default test' -a list -d 'List providers - kind, model, auth, place in the failover order, last '
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and not __fish_seen_subcommand_from add list login logout models remove set-default test' -a login -d 'Sign in to an OAuth provider and keep its tokens in the keyring.'
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and not __fish_seen_subcommand_from add list login logout models remove set-default test' -a logout -d 'Forget a providers OAuth tokens (the keyring entry is deleted).'
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and not __fish_seen_subcommand_from add list login logout models remove set-default test' -a models -d 'List the models a provider offers, where its API has a list (e.g. GET '
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and not __fish_seen_subcommand_from add list login logout models remove set-default test' -a remove -d 'Remove a provider from config.yaml (and from the fallbacks), and the k'
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and not __fish_seen_subcommand_from add list login logout models remove set-default test' -a set-default -d 'Make a provider the one that answers first; the fallbacks stay as they'
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and not __fish_seen_subcommand_from add list login logout models remove set-default test' -a test -d 'Check a provider - its health endpoint, then a tiny completion. Shows '
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and not __fish_seen_subcommand_from add list login logout models remove set-default test' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l api-key-ref -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l api-key-stdin
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l auth -xa '(printf "%s\n" api-key oauth mtls none)'
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l base-url -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l ca -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l cert -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l default
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l fallback
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l key -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l kind -xa '(printf "%s\n" anthropic grpc openai openai-ws)'
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l model -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l oauth-authorize-url -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l oauth-client-id -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l oauth-client-secret-ref -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l oauth-client-secret-stdin
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l oauth-device-url -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l oauth-flow -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l oauth-redirect-port -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l oauth-scope -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l oauth-token-url -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from add' -l replace
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from list' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from list' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from list' -l usage
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from login' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from login' -l no-browser
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from login' -l timeout -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from login' -a '(assistant-cli providers list 2>/dev/null | cut -f1)'
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from logout' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from logout' -a '(assistant-cli providers list 2>/dev/null | cut -f1)'
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from models' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from models' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from models' -a '(assistant-cli providers list 2>/dev/null | cut -f1)'
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from remove' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from remove' -l keep-secrets
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from remove' -a '(assistant-cli providers list 2>/dev/null | cut -f1)'
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from set-default' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from set-default' -a '(assistant-cli providers list 2>/dev/null | cut -f1)'
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from test' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from test' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from providers; and __fish_seen_subcommand_from test' -a '(assistant-cli providers list 2>/dev/null | cut -f1)'
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and not __fish_seen_subcommand_from delete list rotate set' -a delete -d 'Delete a secret from the keyring.'
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and not __fish_seen_subcommand_from delete list rotate set' -a list -d 'List stored secrets - name, backend, when set and last rotated, age. N'
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and not __fish_seen_subcommand_from delete list rotate set' -a rotate -d 'Replace a secret with a new value, tested before the old one is given '
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and not __fish_seen_subcommand_from delete list rotate set' -a set -d 'Store a secret - typed at a hidden prompt, or read from stdin when pip'
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and not __fish_seen_subcommand_from delete list rotate set' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from delete' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from delete' -a '(assistant-cli secrets list 2>/dev/null | cut -f1)'
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from list' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from list' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from rotate' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from rotate' -l no-test
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from rotate' -l timeout -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from rotate' -a '(assistant-cli secrets list 2>/dev/null | cut -f1)'
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from set' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from set' -a '(assistant-cli secrets list 2>/dev/null | cut -f1)'
complete -c assistant-cli -n '__fish_seen_subcommand_from serve' -l allowed-origins -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from serve' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from serve' -l host -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from serve' -l insecure-http
complete -c assistant-cli -n '__fish_seen_subcommand_from serve' -l jwt-secret -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from serve' -l port -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from serve' -l replica -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from serve' -l role -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from serve' -l tls-cert -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from serve' -l tls-key -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and not __fish_seen_subcommand_from install logs status uninstall' -a install -d 'Write and start the service - a systemd user unit with hardening, or a'
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and not __fish_seen_subcommand_from install logs status uninstall' -a logs -d 'Follow what the service prints (journalctl --user -u / the agents log '
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and not __fish_seen_subcommand_from install logs status uninstall' -a status -d 'Show whether the service runs (systemctl --user status / launchctl pri'
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and not __fish_seen_subcommand_from install logs status uninstall' -a uninstall -d 'Stop the service and remove its unit (or agent). Config and state stay'
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and not __fish_seen_subcommand_from install logs status uninstall' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and __fish_seen_subcommand_from install' -l dry-run
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and __fish_seen_subcommand_from install' -l env-file -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and __fish_seen_subcommand_from install' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and __fish_seen_subcommand_from install' -l password-file -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and __fish_seen_subcommand_from install' -l target -xa '(printf "%s\n" systemd launchd)'
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and __fish_seen_subcommand_from logs' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and __fish_seen_subcommand_from logs' -l lines -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and __fish_seen_subcommand_from logs' -l target -xa '(printf "%s\n" systemd launchd)'
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and __fish_seen_subcommand_from status' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and __fish_seen_subcommand_from status' -l target -xa '(printf "%s\n" systemd launchd)'
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and __fish_seen_subcommand_from uninstall' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from service; and __fish_seen_subcommand_from uninstall' -l target -xa '(printf "%s\n" systemd launchd)'
complete -c assistant-cli -n '__fish_seen_subcommand_from state; and not __fish_seen_subcommand_from info migrate' -a info -d 'Show the backend, where it is (password masked), schema version, size,'
complete -c assistant-cli -n '__fish_seen_subcommand_from state; and not __fish_seen_subcommand_from info migrate' -a migrate -d 'Copy the SQLite state (inbox, replies, history, pairing, usage, audit '
complete -c assistant-cli -n '__fish_seen_subcommand_from state; and not __fish_seen_subcommand_from info migrate' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from state; and __fish_seen_subcommand_from info' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from state; and __fish_seen_subcommand_from info' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from state; and __fish_seen_subcommand_from migrate' -l batch -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from state; and __fish_seen_subcommand_from migrate' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from state; and __fish_seen_subcommand_from migrate' -l password-env -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from state; and __fish_seen_subcommand_from migrate' -l to -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from tools; and not __fish_seen_subcommand_from approvals list test' -a approvals -d 'List remembered approvals ("Allow in this chat", "Always"), or revoke '
complete -c assistant-cli -n '__fish_seen_subcommand_from tools; and not __fish_seen_subcommand_from approvals list test' -a list -d 'Every tool (name, source, who may call it, whether it asks first, desc'
complete -c assistant-cli -n '__fish_seen_subcommand_from tools; and not __fish_seen_subcommand_from approvals list test' -a test -d 'Run one tool call here (no confirmation - you are the owner) and print'
complete -c assistant-cli -n '__fish_seen_subcommand_from tools; and not __fish_seen_subcommand_from approvals list test' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from tools; and __fish_seen_subcommand_from approvals' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from tools; and __fish_seen_subcommand_from approvals' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from tools; and __fish_seen_subcommand_from approvals' -l revoke -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from tools; and __fish_seen_subcommand_from list' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from tools; and __fish_seen_subcommand_from list' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from tools; and __fish_seen_subcommand_from test' -l args -r -F
complete -c assistant-cli -n '__fish_seen_subcommand_from tools; and __fish_seen_subcommand_from test' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from tools; and __fish_seen_subcommand_from test' -l json

# fish completion for assistant-cli (generated; do not edit)
complete -c assistant-cli -f
complete -c assistant-cli -n '__fish_use_subcommand' -a audit -d 'Read and verify the audit log of admin actions (pairing, secrets, prov'
complete -c assistant-cli -n '__fish_use_subcommand' -a config -d 'Create, check and show the configuration file.'
complete -c assistant-cli -n '__fish_use_subcommand' -a dashboard -d 'Live Textual console for a running serve. (not available yet)'
complete -c assistant-cli -n '__fish_use_subcommand' -a doctor -d 'Find what is wrong with the setup and say how to fix it. (not availabl'
complete -c assistant-cli -n '__fish_use_subcommand' -a logs -d 'Show what the gateway has been doing, from the log assistant-cli serve'
complete -c assistant-cli -n '__fish_use_subcommand' -a pairing -d 'Approve, deny and list people who asked to talk to the bot. Works whet'
complete -c assistant-cli -n '__fish_use_subcommand' -a providers -d 'List, add, test and remove model providers. (not available yet)'
complete -c assistant-cli -n '__fish_use_subcommand' -a secrets -d 'Store, list and delete secrets (API keys, bot tokens) in the OS keyrin'
complete -c assistant-cli -n '__fish_use_subcommand' -a serve -d 'Run the assistant - receive messages, answer them with your model, unt'
complete -c assistant-cli -n '__fish_use_subcommand' -l config
complete -c assistant-cli -n '__fish_use_subcommand' -l debug
complete -c assistant-cli -n '__fish_use_subcommand' -l help
complete -c assistant-cli -n '__fish_use_subcommand' -l version
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and not __fish_seen_subcommand_from list verify' -a list -d 'List audit entries - time, actor, action, target, outcome.'
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and not __fish_seen_subcommand_from list verify' -a verify -d 'Check the HMAC chain; names the first altered, deleted or reordered en'
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and not __fish_seen_subcommand_from list verify' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and __fish_seen_subcommand_from list' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and __fish_seen_subcommand_from list' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and __fish_seen_subcommand_from list' -l since
complete -c assistant-cli -n '__fish_seen_subcommand_from audit; and __fish_seen_subcommand_from verify' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and not __fish_seen_subcommand_from init show validate' -a init -d 'Write a commented starter config.yaml (refuses to overwrite without --'
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and not __fish_seen_subcommand_from init show validate' -a show -d 'Print the effective configuration (defaults filled in) with secrets ma'
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and not __fish_seen_subcommand_from init show validate' -a validate -d 'Check config.yaml; prints each problem as FILE -LINE - KEY - what was '
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and not __fish_seen_subcommand_from init show validate' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and __fish_seen_subcommand_from init' -l force
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and __fish_seen_subcommand_from init' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and __fish_seen_subcommand_from show' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from config; and __fish_seen_subcommand_from validate' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from dashboard' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from doctor' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l channel
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l follow
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l grep
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l level
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l lines
complete -c assistant-cli -n '__fish_seen_subcommand_from logs' -l since
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and not __fish_seen_subcommand_from allow approve deny list revoke' -a allow -d 'Approve a sender without a code, for someone you already know by id.'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and not __fish_seen_subcommand_from allow approve deny list revoke' -a approve -d 'Approve a sender with the code the bot gave them.'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and not __fish_seen_subcommand_from allow approve deny list revoke' -a deny -d 'Refuse a pending request; they get no reply, and can ask again after a'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and not __fish_seen_subcommand_from allow approve deny list revoke' -a list -d 'List pending requests (with age and expiry) and approved senders.'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and not __fish_seen_subcommand_from allow approve deny list revoke' -a revoke -d 'Remove an approved sender; their next message starts pairing again.'
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and not __fish_seen_subcommand_from allow approve deny list revoke' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from allow' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from allow' -l name
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from allow' -l platform
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from allow' -l user-id
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from approve' -l code
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from approve' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from approve' -l platform
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from approve' -l user-id
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from deny' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from deny' -l platform
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from deny' -l user-id
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from list' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from list' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from list' -l platform
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from revoke' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from revoke' -l platform
complete -c assistant-cli -n '__fish_seen_subcommand_from pairing; and __fish_seen_subcommand_from revoke' -l user-id
complete -c assistant-cli -n '__fish_seen_subcommand_from providers' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and not __fish_seen_subcommand_from delete list set' -a delete -d 'Delete a secret from the keyring.'
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and not __fish_seen_subcommand_from delete list set' -a list -d 'List stored secrets - name, backend, when set and last rotated, age. N'
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and not __fish_seen_subcommand_from delete list set' -a set -d 'Store a secret - typed at a hidden prompt, or read from stdin when pip'
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and not __fish_seen_subcommand_from delete list set' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from delete' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from list' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from list' -l json
complete -c assistant-cli -n '__fish_seen_subcommand_from secrets; and __fish_seen_subcommand_from set' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from serve' -l help
complete -c assistant-cli -n '__fish_seen_subcommand_from serve' -l host
complete -c assistant-cli -n '__fish_seen_subcommand_from serve' -l port

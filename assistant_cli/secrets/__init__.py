"""The secret store: `keyring:`/`env:` references, the keyring and encrypted-file
backends, and rotation of stored credentials."""

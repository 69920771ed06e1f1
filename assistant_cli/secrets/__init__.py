"""The secret store: `keyring:`/`env:` references, the keyring and encrypted-file
backends, and rotation of stored credentials."""

# The password of the encrypted-file backend; setting it selects that backend. Here, not in
# keyring_backend.py, so that keyring_file.py can name it without importing its selector.
PASSWORD_ENV = "ASSISTANT_CLI_KEYRING_PASSWORD"

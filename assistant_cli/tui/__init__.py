"""The Textual dashboard (`assistant-cli dashboard`): a live console for a running `serve`."""

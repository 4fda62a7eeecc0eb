"""Ad selection and the display-facing HTTP API."""

"""Local stack, workers, container images, clients and deploy helpers."""

"""Models the restore tests build checkpoints from and restore into (see ``zoo``)."""

"""Where images come from: the OSS-backed registry, archives named in the config, the Docker
engine and the locally built default image; and how they reach each runtime."""

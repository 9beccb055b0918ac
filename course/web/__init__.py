"""The web servers: the self-paced site, the cohort site and the instructor site, all Voilà on jupyter_server."""

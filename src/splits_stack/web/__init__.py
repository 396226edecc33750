"""The gateway: the portal and candidate web apps and the JSON API, chosen by the Host header."""

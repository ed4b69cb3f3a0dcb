"""The web app: server-rendered pages and the live-events socket, over the interactors."""

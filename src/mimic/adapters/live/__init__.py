"""Live events to the web pages: one wire format, published through Redis Pub/Sub in
production or this process's channels plugin when embedded."""

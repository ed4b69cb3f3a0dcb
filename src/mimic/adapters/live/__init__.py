"""Live events to the web pages: one wire format, published through Redis Pub/Sub in
production or handed straight to this process's open pages when embedded."""

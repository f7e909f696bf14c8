"""Entry points that run beside the worker, the web app and the command line: the SMTP/LMTP receiver
and the IMAP poller. They translate what arrives into calls of the use cases in `services/` and
decide nothing themselves; nothing below them imports them."""

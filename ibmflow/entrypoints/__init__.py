"""Entry points beside the web app and the command line: the SMTP/LMTP receiver (`receiver`), the
IMAP poller (`imap`), the worker (`worker`, APScheduler) and the quick start (`quickstart`: the
console and the worker in one loop). They translate what arrives into calls of the use cases in
`services/` and decide nothing themselves; nothing below them imports them."""

"""Mail helpers that call nothing: rendering the notifications, composing and checking messages,
parsing replies, and the SMTP transport. The use cases that use them (the outbox, dispatch, receiving
replies) are in `services/`; the receiver and the IMAP poller in `entrypoints/`."""

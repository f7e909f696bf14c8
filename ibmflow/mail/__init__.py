"""Mail: rendering the notifications, the outbox, delivery, and replies coming back."""

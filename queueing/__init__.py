"""Virtual queues: tickets, fair ordering, staff calling, live screens and notifications."""

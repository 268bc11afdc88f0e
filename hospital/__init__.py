"""Hospital registration and queue management: the shared kernel and the application shell."""

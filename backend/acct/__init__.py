"""Users, roles, authentication and permission classes. Imports only `core` and `audit`."""

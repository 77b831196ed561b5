"""The demonstration scenario: organisations of a UN police component, the host-state police and a protection
partner in the Central African Republic, accounts in every role, and records spread over real places and two
years. `scenario`, `places`, `narratives` and `generate` are pure; `load` writes through the services."""

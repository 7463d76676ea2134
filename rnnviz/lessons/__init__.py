"""The lessons' computations: every number a teaching page shows, computed and tested here."""

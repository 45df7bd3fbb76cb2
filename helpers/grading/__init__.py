"""What graded test cells import (students never call it): :mod:`.model_checks` (what a
model reports), :mod:`.probes` (what it computes), :mod:`.hidden` (hidden tests' inputs)."""

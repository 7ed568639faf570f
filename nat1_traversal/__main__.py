from nat1_traversal.signals import GUARD, Stopped

GUARD.install()  # before the imports below: a stop signal at start-up is a clean exit too
try:
    from nat1_traversal.cli import main
except Stopped:
    raise SystemExit(0) from None

raise SystemExit(main())

from nat1_traversal.cli import main

raise SystemExit(main())

from demo.demo import main

raise SystemExit(main())

from cascrawl.cli import main

raise SystemExit(main())

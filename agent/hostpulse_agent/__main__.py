from hostpulse_agent.cli import main

raise SystemExit(main())

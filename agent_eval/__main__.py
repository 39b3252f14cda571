from agent_eval.cli.app import main

main()

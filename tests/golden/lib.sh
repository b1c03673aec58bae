# Golden tests: every tests/golden/NAME.cmd (or AREA/NAME.cmd) holds one command line, run from
# the repository's top with the built programs first on PATH; NAME.out holds
# what it must print (standard output, then standard error, then
# "exit N" when N is not 0).  `tests/golden/update BUILD` regenerates them.
golden_run() {   # golden_run CMDFILE: print the command's output as pinned
	local cmd
	cmd=$(cat "$1")
	(cd "$KG_TOP" && PATH="$KG_BUILD:$PATH" bash -c "$cmd" 2>"$KG_GOLDEN_ERR"; rc=$?
	 cat "$KG_GOLDEN_ERR"; [ "$rc" -eq 0 ] || echo "exit $rc")
}

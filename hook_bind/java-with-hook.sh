#!/bin/sh
# java-with-hook.sh - run the real `java` with hook_bind.so preloaded.
#
# For server panels that only let you choose the Java executable: point the
# panel's "Java path" at this script (or link it as `java` in a directory that
# comes first in PATH).  All arguments are passed to java unchanged, and java
# replaces this shell (exec), so the panel sees the server's own PID.
#
#   NAT1_HOOK_SO    path of hook_bind.so (default: next to this script)
#   NAT1_REAL_JAVA  the java to run (default: the first `java` in PATH that is
#                   not this script, else $JAVA_HOME/bin/java)
#   NAT1_HOOK_PORTS passed through to hook_bind.so (only touch these ports)
set -eu

self=$(readlink -f -- "$0")
here=$(dirname -- "$self")
hook=${NAT1_HOOK_SO:-$here/hook_bind.so}

if [ ! -r "$hook" ]; then
    echo "java-with-hook.sh: cannot read $hook (run 'make' in $here first)" >&2
    exit 127
fi
hook=$(readlink -f -- "$hook")
case $hook in
    *[[:space:]:]*)
        # the dynamic loader splits LD_PRELOAD at blanks and colons
        echo "java-with-hook.sh: path of hook_bind.so must not contain blanks or ':': $hook" >&2
        exit 127
        ;;
esac

java=${NAT1_REAL_JAVA:-}
if [ -z "$java" ]; then
    old_ifs=$IFS
    IFS=:
    for dir in $PATH; do
        candidate=${dir:-.}/java
        if [ -f "$candidate" ] && [ -x "$candidate" ] \
            && [ "$(readlink -f -- "$candidate")" != "$self" ]; then
            java=$candidate
            break
        fi
    done
    IFS=$old_ifs
fi
if [ -z "$java" ] && [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    java=$JAVA_HOME/bin/java
fi
if [ -z "$java" ]; then
    echo "java-with-hook.sh: no java found; set NAT1_REAL_JAVA" >&2
    exit 127
fi

LD_PRELOAD="$hook${LD_PRELOAD:+ $LD_PRELOAD}"
export LD_PRELOAD
exec "$java" "$@"

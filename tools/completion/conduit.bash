# bash completion for conduit: verbs, each verb's options and their values, object names from
# the namespace, and the tour's scenario names. Installed as
# share/bash-completion/completions/conduit; or: source tools/completion/conduit.bash
_conduit_names() {
  local dir=${CONDUIT_NAMESPACE:-/dev/shm/conduit.$(id -u)}
  ls "$dir" 2>/dev/null | grep -v '#'
}

_conduit() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} verb=${COMP_WORDS[1]}
  local verbs="create ls stat rm send recv watch doctor bench tour"
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "$verbs --help --version" -- "$cur"))
    return
  fi
  # Values of the options that take one.
  case "$prev" in
    -c|--capacity) COMPREPLY=($(compgen -W "zero unbounded 1 8 64 1024" -- "$cur")); return ;;
    -r|--receivers) COMPREPLY=($(compgen -W "any_one exclusive broadcast pair" -- "$cur")); return ;;
    -l|--lifetime) COMPREPLY=($(compgen -W "system process" -- "$cur")); return ;;
    -f|--file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --examples) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    -m|--mode|-s|--max-size|-t|--type|-n|--count|--iterations|-i|--interval|--timeout) return ;;
  esac
  local options=""
  case "$verb" in
    create) options="--capacity --max-size --receivers --mode --lifetime" ;;
    ls) options="--json --all" ;;
    stat) options="--json" ;;
    rm) options="--dead --json" ;;
    send) options="--type --file --timeout" ;;
    recv) options="--type --timeout --count --json" ;;
    watch) options="--interval --iterations" ;;
    doctor) options="--json" ;;
    bench) options="--quick --smoke" ;;
    tour) options="--list --json --timeout --examples" ;;
    *) return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$options --help" -- "$cur"))
    return
  fi
  case "$verb" in
    stat|rm|send|recv|watch) COMPREPLY=($(compgen -W "$(_conduit_names)" -- "$cur")) ;;
    tour)
      local scenarios=$("${COMP_WORDS[0]}" tour --list 2>/dev/null | awk '{print $1}')
      COMPREPLY=($(compgen -W "$scenarios" -- "$cur")) ;;
  esac
}
complete -F _conduit conduit

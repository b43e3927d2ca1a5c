# bash completion for conduit: verbs, options, and object names from the namespace.
_conduit() {
  local cur=${COMP_WORDS[COMP_CWORD]} verb=${COMP_WORDS[1]}
  local verbs="create ls stat rm send recv watch doctor bench tour"
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "$verbs --help --version" -- "$cur"))
    return
  fi
  case "$verb" in
    ls) COMPREPLY=($(compgen -W "--json --all" -- "$cur")) ;;
    doctor) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
    bench) COMPREPLY=($(compgen -W "--quick" -- "$cur")) ;;
    create) COMPREPLY=($(compgen -W "--capacity --max-size --receivers --mode" -- "$cur")) ;;
    stat|rm|send|recv|watch)
      if [[ $cur == -* ]]; then
        case "$verb" in
          stat) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
          rm) COMPREPLY=($(compgen -W "--dead" -- "$cur")) ;;
          send) COMPREPLY=($(compgen -W "--type --file --timeout" -- "$cur")) ;;
          recv) COMPREPLY=($(compgen -W "--type --timeout --count --json" -- "$cur")) ;;
          watch) COMPREPLY=($(compgen -W "--interval --iterations" -- "$cur")) ;;
        esac
      else
        local dir=${CONDUIT_NAMESPACE:-/dev/shm/conduit.$(id -u)}
        local names=$(ls "$dir" 2>/dev/null | grep -v '#')
        COMPREPLY=($(compgen -W "$names" -- "$cur"))
      fi ;;
  esac
}
complete -F _conduit conduit

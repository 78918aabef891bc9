{{/* The first string priorityClassName anywhere in the values (the paths differ between charts). */}}
{{- define "standin.priorityClassName" -}}
{{- $found := "" -}}
{{- range $key, $value := . -}}
{{- if and (not $found) (eq $key "priorityClassName") (kindIs "string" $value) -}}
{{- $found = $value -}}
{{- end -}}
{{- end -}}
{{- if not $found -}}
{{- range $key, $value := . -}}
{{- if and (not $found) (kindIs "map" $value) -}}
{{- $found = include "standin.priorityClassName" $value -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $found -}}
{{- end -}}

#!/bin/sh
# examples/cgi_app.ts as a CGI script on Deno: link or copy this file where
# the web server runs CGI scripts (lighttpd: cgi.assign = (".cgi" => "")).
exec deno run --quiet --no-prompt --allow-env \
  "$(dirname "$(readlink -f "$0")")/cgi_app.ts"

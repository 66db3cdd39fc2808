#!/bin/sh
exec "$TERN_BUILD/t/html_text"

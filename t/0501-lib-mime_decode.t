#!/bin/sh
exec "$TERN_BUILD/t/mime_decode"

#!/bin/sh
exec "$TERN_BUILD/t/pop3"

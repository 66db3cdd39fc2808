#!/bin/sh
exec "$TERN_BUILD/t/smtp_envcmd"

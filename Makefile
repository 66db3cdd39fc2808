# tern: build, run, check, install.
#   make                 build every program into build/
#   make run             start a demo instance in ./run (foreground)
#   make check           build and run every test with prove
#   make check SANITIZE=1   the same with ASan and UBSan (into build-san/)
#   make fuzz            run each fuzz target for FUZZTIME seconds
#   make install PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec/tern
MANDIR ?= $(PREFIX)/share/man
TERN_ROOT_DEFAULT ?= /var/tern
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wshadow -Wstrict-prototypes
DEFS := -D_GNU_SOURCE -DTERN_LIBEXEC_DEFAULT='"$(LIBEXECDIR)"' -DTERN_ROOT_DEFAULT='"$(TERN_ROOT_DEFAULT)"'

# BUILDDIR: another build tree (a second worktree's, a helper's)
ifeq ($(SANITIZE),1)
B := $(or $(BUILDDIR),build-san)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LINKMODE :=
else
B := $(or $(BUILDDIR),build)
SANFLAGS :=
# Static binaries start faster (one exec per connection and per message
# adds up) and share no pages with anything: see bench/.
LINKMODE := -static
endif

ALL_CFLAGS := $(CFLAGS) $(WARN) $(SANFLAGS) -Ilib $(DEFS)
ALL_LDFLAGS := $(LDFLAGS) $(SANFLAGS) $(LINKMODE)

# program = directory holding program.c
PROGRAMS := \
  smtp-recv/smtp-recv \
  queue/queue-add queue/queue-store queue/queue-run queue/sendmail queue/mailq \
  deliver/deliver deliver/newaliases \
  auth/mailuser auth/pwcheck \
  pop3-serve/pop3-login pop3-serve/pop3-serve \
  imap-serve/imap-login imap-serve/imap-serve imap-serve/mailbox-check \
  mxlookup/mxlookup smtp-send/smtp-send \
  tls/tlsd
PROGNAMES := $(notdir $(PROGRAMS))
BINS := $(addprefix $(B)/,$(PROGNAMES))

LIBSRC := $(sort $(wildcard lib/*.c))
LIBHDR := $(sort $(wildcard lib/*.h))
LIBOBJ := $(patsubst lib/%.c,$(B)/obj/lib/%.o,$(LIBSRC))
LIB := $(B)/libtern.a

UNITSRC := $(sort $(wildcard t/unit/*.c))
UNITBINS := $(patsubst t/unit/%.c,$(B)/t/%,$(UNITSRC))

LIBS_default := -lskarnet
# The mailbox store (LMDB) and MIME (iconv, libunistring; gumbo for the
# text of HTML parts): deliver and pop3-serve update the index;
# imap-serve, mailbox-check read it all.
STORELIBS := -llmdb -lgumbo -lunistring -lskarnet
LIBS_deliver := $(STORELIBS)
LIBS_pop3-serve := $(STORELIBS)
# imap-serve runs once per connection: static, as the others, so that no
# shared library costs each process its relocated data pages (bench/imap's
# memory figures). Its iconv(3) then loads glibc's gconv modules with the
# static dlopen, which wants the glibc tern was built against: rebuild tern
# after a glibc upgrade (a charset iconv cannot open is read as UTF-8 where
# valid, else replaced: never an error).
LIBS_imap-serve := $(STORELIBS) -lz -lpthread
LIBS_mailbox-check := $(STORELIBS)
LIBS_mailuser := -lcrypt -llmdb -lgumbo -lunistring -lskarnet
LIBS_pwcheck := -lcrypt -lskarnet
# res_n* and ns_* link statically with glibc (no NSS involved).
LIBS_mxlookup := -lresolv -lskarnet
# tlsd is the one server program that links BearSSL.
LIBS_tlsd := -lbearssl -lskarnet
# smtp-send: STARTTLS as a client, the other program that links BearSSL.
LIBS_smtp-send := -lbearssl -lskarnet
# sendmail asks getpwuid(3) who runs it: NSS needs the dynamic libc.
LINK_sendmail := dynamic

.PHONY: all deps run check check-only fuzz install install-sendmail clean lint
.DELETE_ON_ERROR:

all: $(BINS) $(UNITBINS)

deps:
	@mk/deps build

# The compiled-in paths: objects are rebuilt when they change
# (make install PREFIX=... after a plain make must not keep the old ones).
CONFIG := $(B)/config.stamp
$(shell mkdir -p $(B) && echo '$(DEFS) $(CC) $(CFLAGS) $(SANFLAGS)' > $(B)/config.new && \
  (cmp -s $(B)/config.new $(CONFIG) || mv $(B)/config.new $(CONFIG)); rm -f $(B)/config.new)

$(B)/obj/lib/%.o: lib/%.c $(LIBHDR) $(CONFIG)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIBOBJ)
	rm -f $@
	ar rcs $@ $^

# A program is DIR/NAME.c, or, when SRCS_NAME is set, several files of
# its directory (a big server is a directory: STYLE.md 15), with the
# directory's own headers.
SRCS_imap-serve := $(filter-out imap-serve/imap-login.c imap-serve/mailbox-check.c,$(wildcard imap-serve/*.c))
define prog_rule
$(foreach src,$(or $(SRCS_$(notdir $(1))),$(1).c),
$(B)/obj/$(src:.c=.o): $(src) $(LIBHDR) $(wildcard $(dir $(1))*.h) $(CONFIG)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) -c -o $$@ $$<
)
$(B)/$(notdir $(1)): $(patsubst %.c,$(B)/obj/%.o,$(or $(SRCS_$(notdir $(1))),$(1).c)) $(LIB)
	$$(CC) $$(if $$(LINK_$(notdir $(1))),$$(filter-out -static,$$(ALL_LDFLAGS)),$$(ALL_LDFLAGS)) -o $$@ $$(filter %.o,$$^) $(LIB) $$(or $$(LIBS_$(notdir $(1))),$$(LIBS_default))
endef
$(foreach p,$(PROGRAMS),$(eval $(call prog_rule,$(p))))

$(B)/t/%: t/unit/%.c $(LIB) t/unit/tap.h $(LIBHDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -It/unit $(filter-out -static,$(ALL_LDFLAGS)) -o $@ $< $(LIB) -lcrypt -llmdb -lgumbo -lunistring -lskarnet

run:
	@mk/deps run
	$(MAKE) all
	bin/tern-up ./run

# check: install what the tests need, build, then run every test.
check:
	@mk/deps check
	$(MAKE) all
	$(MAKE) check-only

check-only:
	TERN_BUILD=$(CURDIR)/$(B) prove -j2 t/

FUZZTIME ?= 300
fuzz: all
	TERN_BUILD=$(CURDIR)/$(B) FUZZTIME=$(FUZZTIME) fuzz/run-all

lint:
	mandoc -Tlint -Wwarning man/*.[0-9]

install: all
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(LIBEXECDIR)/service
	install -m 755 $(BINS) $(DESTDIR)$(LIBEXECDIR)/
	install -m 755 bin/tern-up bin/tern-setup $(DESTDIR)$(LIBEXECDIR)/
	cp -R service/. $(DESTDIR)$(LIBEXECDIR)/service/
	for p in mailq mailuser newaliases; do ln -sf $(LIBEXECDIR)/$$p $(DESTDIR)$(SBINDIR)/$$p; done
	ln -sf $(LIBEXECDIR)/sendmail $(DESTDIR)$(SBINDIR)/tern-sendmail
	for m in man/*.[1578]; do s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

# Replaces the system's sendmail(8) only when asked.
install-sendmail: install
	ln -sf $(LIBEXECDIR)/sendmail $(DESTDIR)/usr/sbin/sendmail
	ln -sf $(LIBEXECDIR)/mailq $(DESTDIR)/usr/bin/mailq
	ln -sf $(LIBEXECDIR)/newaliases $(DESTDIR)/usr/bin/newaliases

clean:
	rm -rf build build-san t/trash

# bench/: measuring tools, not part of tern (not installed)
$(B)/smtp-load: bench/smtp-load.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -o $@ $< -lpthread

print-programs:
	@echo $(PROGNAMES)

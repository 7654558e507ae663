# gotd — build, install and test. The logic lives in `cargo xtask`; this file
# gives it the usual make interface.
#
#   make                    release build of gotd, gotsh, gotctl
#   make install            install them into $(DESTDIR)$(BINDIR), man pages into
#                           $(DESTDIR)$(MANDIR), samples into $(DESTDIR)$(EXAMPLESDIR)
#   make uninstall          remove them again
#   make regress            build, install into ~$GOTD_TEST_USER/bin, run the regress suite
#   make check              everything CI runs (fmt, clippy, tests, regress)
#   make dist               target/dist/gotd-<version>.tar.gz
#   make clean              cargo clean

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
EXAMPLESDIR ?= $(PREFIX)/share/examples/gotd
DESTDIR ?=
CARGO ?= cargo

all:
	$(CARGO) build --release -p gotd -p gotsh -p gotctl

install: all install-man install-examples
	$(CARGO) xtask install --prefix "$(PREFIX)" --bindir "$(BINDIR)" --destdir "$(DESTDIR)"

install-man:
	install -d -m 0755 "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(MANDIR)/man5" "$(DESTDIR)$(MANDIR)/man8"
	install -m 0644 man/gotsh.1 "$(DESTDIR)$(MANDIR)/man1/"
	install -m 0644 man/gotd.conf.5 man/gotd-secrets.conf.5 "$(DESTDIR)$(MANDIR)/man5/"
	install -m 0644 man/gotd.8 man/gotctl.8 "$(DESTDIR)$(MANDIR)/man8/"

install-examples:
	install -d -m 0755 "$(DESTDIR)$(EXAMPLESDIR)"
	install -m 0644 contrib/gotd.conf.sample contrib/sshd_config.gotd "$(DESTDIR)$(EXAMPLESDIR)/"
	sed 's|/usr/local/bin/|$(BINDIR)/|g' contrib/systemd/gotd.service > "$(DESTDIR)$(EXAMPLESDIR)/gotd.service"
	chmod 0644 "$(DESTDIR)$(EXAMPLESDIR)/gotd.service"

uninstall:
	$(CARGO) xtask uninstall --prefix "$(PREFIX)" --bindir "$(BINDIR)" --destdir "$(DESTDIR)"
	rm -f "$(DESTDIR)$(MANDIR)/man1/gotsh.1" "$(DESTDIR)$(MANDIR)/man5/gotd.conf.5" \
	    "$(DESTDIR)$(MANDIR)/man5/gotd-secrets.conf.5" "$(DESTDIR)$(MANDIR)/man8/gotd.8" \
	    "$(DESTDIR)$(MANDIR)/man8/gotctl.8"
	rm -f "$(DESTDIR)$(EXAMPLESDIR)/gotd.conf.sample" "$(DESTDIR)$(EXAMPLESDIR)/sshd_config.gotd" \
	    "$(DESTDIR)$(EXAMPLESDIR)/gotd.service"

regress:
	$(CARGO) xtask regress $(SCENARIOS)

check:
	$(CARGO) xtask ci

dist:
	$(CARGO) xtask dist

clean:
	$(CARGO) clean

.PHONY: all install install-man install-examples uninstall regress check dist clean

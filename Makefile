# gotd — build, install and test. The logic lives in `cargo xtask`; this file
# gives it the usual make interface.
#
#   make                    release build of gotd, gotsh, gotctl
#   make install            install them into $(DESTDIR)$(BINDIR)
#   make uninstall          remove them again
#   make regress            build, install into ~$GOTD_TEST_USER/bin, run the regress suite
#   make check              everything CI runs (fmt, clippy, tests, regress)
#   make dist               target/dist/gotd-<version>.tar.gz
#   make clean              cargo clean

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DESTDIR ?=
CARGO ?= cargo

all:
	$(CARGO) build --release -p gotd -p gotsh -p gotctl

install: all
	$(CARGO) xtask install --prefix "$(PREFIX)" --bindir "$(BINDIR)" --destdir "$(DESTDIR)"

uninstall:
	$(CARGO) xtask uninstall --prefix "$(PREFIX)" --bindir "$(BINDIR)" --destdir "$(DESTDIR)"

regress:
	$(CARGO) xtask regress $(SCENARIOS)

check:
	$(CARGO) xtask ci

dist:
	$(CARGO) xtask dist

clean:
	$(CARGO) clean

.PHONY: all install uninstall regress check dist clean

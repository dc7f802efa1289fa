# shellcheck shell=bash disable=SC2154 # $work, $base_tar: set by the script that sources this
# base.sh — sourced by tests/container/run.sh and tests/package/run.sh: the
# one Debian 12 root they share, made with debootstrap and cached as a
# tarball. Needs $work (a scratch directory) and $base_tar (the cache file);
# STREAMGATE_TEST_MIRROR overrides the host's Debian mirror.

# host_uri SUITE: the first URI of the host's apt sources that serves SUITE
host_uri() {
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
		2>/dev/null | awk -v suite="$1" '
		/^[ \t]*#/ { next }
		/^deb / { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i ~ /^[a-z+]+:\/\//) {
			if ($(i + 1) == suite) { print $i; exit } ; break } }
		/^URIs:/ { uri = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite && uri != "") { print uri; exit } }
		/^$/ { uri = "" }'
}
# make_base_tar: debootstrap minbase, slimmed, into $base_tar
make_base_tar() {
	local mirror security rootfs
	mirror=${STREAMGATE_TEST_MIRROR:-$(host_uri bookworm)}
	mirror=${mirror:-http://deb.debian.org/debian}
	security=$(host_uri bookworm-security)
	security=${security:-http://deb.debian.org/debian-security}
	rootfs=$work/rootfs
	echo "== debootstrap --variant=minbase bookworm from $mirror (log: $work/debootstrap.log)"
	timeout 1200 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" \
		>"$work/debootstrap.log" 2>&1 || return 1
	# what the official image has: deb822 sources with updates and security,
	# no docs, man pages or translations, no apt caches, no service starts
	rm -f "$rootfs/etc/apt/sources.list"
	cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<-EOF
		Types: deb
		URIs: $mirror
		Suites: bookworm bookworm-updates
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

		Types: deb
		URIs: $security
		Suites: bookworm-security
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<-'EOF'
		path-exclude /usr/share/doc/*
		path-include /usr/share/doc/*/copyright
		path-exclude /usr/share/groff/*
		path-exclude /usr/share/info/*
		path-exclude /usr/share/linda/*
		path-exclude /usr/share/lintian/overrides/*
		path-exclude /usr/share/locale/*
		path-exclude /usr/share/man/*
	EOF
	cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<-'EOF'
		DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
		APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
		Dir::Cache::pkgcache "";
		Dir::Cache::srcpkgcache "";
	EOF
	echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
	printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
	chmod 755 "$rootfs/usr/sbin/policy-rc.d"
	find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
	find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
	rm -rf "$rootfs"/usr/share/{groff,info,linda,lintian/overrides,locale,man}/*
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
		"$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/tmp/*
	: >"$rootfs/etc/resolv.conf"
	: >"$rootfs/etc/machine-id"
	echo localhost >"$rootfs/etc/hostname"
	tar --numeric-owner --xattrs -C "$rootfs" -cf "$base_tar.tmp" . || return 1
	mv "$base_tar.tmp" "$base_tar"
	rm -rf --one-file-system "$rootfs"
}

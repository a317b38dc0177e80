#!/usr/bin/env bash
# Keycloak (the identity provider of the auth tests, dev/test.d/65-auth.sh): the Quarkus distribution
# org.keycloak:keycloak-quarkus-dist from Maven Central, unpacked under $DM_CACHE/keycloak/keycloak-VERSION.
# It needs Java 21+: the machine's default java is 17, so the tests run it with the Temurin 25 JDK that the
# machine image installs beside it (DM_KC_JAVA_HOME, default /usr/lib/jvm/temurin-25-jdk-amd64). Nothing is
# started here. Idempotent: a warm run only checks that kc.sh is there.
source "$(dirname "$0")/../lib.sh"
version="${DM_KEYCLOAK_VERSION:-26.5.6}"
dest="$DM_CACHE/keycloak"
home="$dest/keycloak-$version"
if [ -x "$home/bin/kc.sh" ]; then exit 0; fi
dm_apt maven unzip
mkdir -p "$dest"
zip="$dest/keycloak-quarkus-dist-$version.zip"
if [ ! -s "$zip" ]; then
  dm_log "keycloak: fetching org.keycloak:keycloak-quarkus-dist:$version (~165 MB) from Maven Central"
  # -B: batch mode (no stdin, no colours); the artifact lands in ~/.m2 too, which a warm run does not need.
  mvn -B -q dependency:copy -Dartifact="org.keycloak:keycloak-quarkus-dist:$version:zip" \
    -DoutputDirectory="$dest.tmp" </dev/null
  mv "$dest.tmp/keycloak-quarkus-dist-$version.zip" "$zip"
  rm -rf "$dest.tmp"
fi
rm -rf "$home.tmp"
mkdir -p "$home.tmp"
unzip -q "$zip" -d "$home.tmp"
mv "$home.tmp/keycloak-$version" "$home"
rm -rf "$home.tmp"
[ -x "$home/bin/kc.sh" ] || dm_die "keycloak: $home/bin/kc.sh missing after unpacking $zip"
dm_log "keycloak: $home"

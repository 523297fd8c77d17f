/** The demo replica: a clearly named sample upstream so a fresh install shows a real sync. Off with syncwarden.demo.enabled=false. */
package io.syncwarden.demo;

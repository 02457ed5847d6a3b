/*
 * Registers the ibbridge classes with OVS before OVS's own main() runs, so
 * that the stock vswitchd main, linked with this file, knows them without
 * any change to an OVS file.
 */
#include <config.h>

#include "netdev-ibbridge.h"
#include "openvswitch/compiler.h"

OVS_CONSTRUCTOR(ibbridge_plugin_init)
{
    netdev_ibbridge_register();
}

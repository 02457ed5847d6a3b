/*
 * The "ibbridge" netdev class: an InfiniBand port as an Open vSwitch port.
 */
#ifndef NETDEV_IBBRIDGE_H
#define NETDEV_IBBRIDGE_H 1

void netdev_ibbridge_register(void);

#endif /* netdev-ibbridge.h */

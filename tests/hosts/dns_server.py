"""A real DNS server on loopback (UDP), answering A/AAAA queries from a small zone with dnspython."""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class ZoneServer:
    """Serves ``zone`` ({name: [addresses]}) on ``address``:<free port> until stop()."""

    def __init__(self, zone: dict[str, list[str]], address: str = "127.0.0.53"):
        self.zone = {name.rstrip(".").lower() + ".": addresses for name, addresses in zone.items()}
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((address, 0))
        self.socket.settimeout(0.2)
        self.address = f"{address}:{self.socket.getsockname()[1]}"
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while self.running:
            try:
                data, peer = self.socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().lower()
            if name not in self.zone:
                response.set_rcode(dns.rcode.NXDOMAIN)
            else:
                wanted = "AAAA" if question.rdtype == dns.rdatatype.AAAA else "A"
                addresses = [a for a in self.zone[name] if (":" in a) == (wanted == "AAAA")]
                if addresses:
                    response.answer.append(dns.rrset.from_text_list(name, 60, "IN", wanted, addresses))
            self.socket.sendto(response.to_wire(), peer)

    def stop(self) -> None:
        self.running = False
        self.thread.join()
        self.socket.close()

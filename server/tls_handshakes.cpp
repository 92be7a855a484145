#include "server/tls_handshakes.hpp"

namespace vhostd::server {

TlsHandshakes::Entry::Entry(TlsHandshakes& owner, boost::asio::ip::tcp::socket& socket, std::size_t cap)
    : owner_(owner), socket_(socket) {
    while (owner_.count_ >= cap && owner_.first_ != nullptr) {
        Entry& oldest = *owner_.first_;
        owner_.unlink(oldest);
        oldest.dropped_ = true;
        boost::system::error_code ignored;
        oldest.socket_.cancel(ignored);  // its handshake wakes with operation_aborted
    }
    previous_ = owner_.last_;
    (owner_.last_ != nullptr ? owner_.last_->next_ : owner_.first_) = this;
    owner_.last_ = this;
    ++owner_.count_;
}

TlsHandshakes::Entry::~Entry() {
    if (!dropped_) owner_.unlink(*this);
}

void TlsHandshakes::unlink(Entry& entry) {
    (entry.previous_ != nullptr ? entry.previous_->next_ : first_) = entry.next_;
    (entry.next_ != nullptr ? entry.next_->previous_ : last_) = entry.previous_;
    entry.previous_ = entry.next_ = nullptr;
    --count_;
}

}  // namespace vhostd::server

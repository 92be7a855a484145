#include "server/client_counts.hpp"

#include <string_view>
#include <utility>

namespace vhostd::server {

namespace {

ClientCounts::Key key_of(const boost::asio::ip::address& address) {
    if (address.is_v4()) return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, address.to_v4()).to_bytes();
    return address.to_v6().to_bytes();
}

}  // namespace

std::size_t ClientCounts::KeyHash::operator()(const Key& key) const noexcept {
    return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
}

ClientCounts::Admission ClientCounts::admit(const boost::asio::ip::address& client, const ClientCaps& caps) {
    const Key key = key_of(client);
    std::lock_guard lock(mutex_);
    if (waiting_ >= caps.max_waiting) return {{}, Refusal::waiting};
    Counts& counts = by_client_[key];
    Refusal refusal = Refusal::none;
    if (counts.waiting >= caps.max_waiting_per_ip) refusal = Refusal::waiting_per_ip;
    if (counts.held >= caps.max_held_per_ip) refusal = Refusal::held_per_ip;
    if (refusal != Refusal::none) {
        if (counts.held == 0) by_client_.erase(key);
        return {{}, refusal};
    }
    ++counts.waiting;
    ++counts.held;
    ++waiting_;
    Admission admission;
    admission.slot.owner_ = this;
    admission.slot.key_ = key;
    admission.slot.waiting_ = true;
    return admission;
}

std::size_t ClientCounts::waiting() const {
    std::lock_guard lock(mutex_);
    return waiting_;
}

ClientCounts::Slot& ClientCounts::Slot::operator=(Slot&& other) noexcept {
    if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
        key_ = other.key_;
        waiting_ = other.waiting_;
    }
    return *this;
}

void ClientCounts::Slot::stop_waiting() {
    if (!owner_ || !waiting_) return;
    std::lock_guard lock(owner_->mutex_);
    --owner_->by_client_[key_].waiting;
    --owner_->waiting_;
    waiting_ = false;
}

void ClientCounts::Slot::release() {
    if (!owner_) return;
    std::lock_guard lock(owner_->mutex_);
    const auto found = owner_->by_client_.find(key_);
    if (found != owner_->by_client_.end()) {
        if (waiting_) {
            --found->second.waiting;
            --owner_->waiting_;
        }
        if (--found->second.held == 0) owner_->by_client_.erase(found);
    }
    owner_ = nullptr;
}

const char* describe(ClientCounts::Refusal refusal) {
    switch (refusal) {
        case ClientCounts::Refusal::waiting: return "max_waiting_heads";
        case ClientCounts::Refusal::waiting_per_ip: return "max_waiting_heads_per_ip";
        case ClientCounts::Refusal::held_per_ip: return "max_connections_per_ip";
        case ClientCounts::Refusal::none: break;
    }
    return "none";
}

}  // namespace vhostd::server
